package chatclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"time"
)

// Files and search (docs/protocol.md, "Files" and "Search"): a file is
// uploaded in two steps, a slot from the session (upload) and its bytes
// over HTTP to the slot's URL; messages carry their file's Attachment,
// whose URL (with the session's file token) the client fills in.

// Attachment is the file of a message.
type Attachment struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Size   int64  `json:"size"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
	// URL downloads the file (with the session's file token; "" when the
	// server gave none). Filled in by the Client, not sent by the server.
	URL string `json:"-"`
}

// SearchHit is one search result: the message and the UTF-16 ranges of
// the matched words in its text and file name.
type SearchHit struct {
	Message    Message `json:"message"`
	Highlights struct {
		Text [][2]int `json:"text"`
		Name [][2]int `json:"name"`
	} `json:"highlights"`
}

// SearchPage is a page of results, newest first; Next continues it.
type SearchPage struct {
	Results []SearchHit `json:"results"`
	More    bool        `json:"more"`
	Next    string      `json:"next"`
}

// httpBase is the HTTP origin of the server at url (ws → http).
func httpBase(url string) (*neturl.URL, error) {
	u, err := neturl.Parse(url)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	return &neturl.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// fileToken state, under c.mu.
type fileToken struct {
	token   string
	expires time.Time
}

// refreshFileToken asks for a file token (after every hello). A server
// without files leaves links empty.
func (c *Client) refreshFileToken(ctx context.Context) {
	var r struct {
		Token   string `json:"token"`
		Expires int64  `json:"expires"`
	}
	if err := c.call(ctx, "fileToken", &r); err != nil {
		c.log.Debug("chat: no file token", "err", err)
		return
	}
	c.mu.Lock()
	c.ftok = fileToken{token: r.Token, expires: time.UnixMilli(r.Expires)}
	c.mu.Unlock()
}

// linkLocked fills in m's attachment URL.
func (c *Client) linkLocked(m *Message) {
	if m.Attachment == nil || c.ftok.token == "" {
		return
	}
	a := *m.Attachment
	u := *c.base
	u.Path = "/api/v1/files/" + a.ID + "/" + a.Name
	u.RawQuery = neturl.Values{"token": {c.ftok.token}}.Encode()
	a.URL = u.String()
	m.Attachment = &a
}

// SendFile uploads the file at path to room as a message (caption: its
// optional text) and returns the stored message. The upload is retried
// with the same slot (and client id) after a network failure: the server
// stores it once.
func (c *Client) SendFile(ctx context.Context, room, path, caption string) (Message, error) {
	f, err := os.Open(path)
	if err != nil {
		return Message{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Message{}, err
	}
	if !st.Mode().IsRegular() {
		return Message{}, fmt.Errorf("%s is not a regular file", path)
	}
	var slot struct {
		URL string `json:"url"`
	}
	args := map[string]any{"room": room, "name": filepath.Base(path), "size": st.Size(), "clientId": c.clientID()}
	if caption != "" {
		args["text"] = caption
	}
	if err := c.retry(ctx, "upload", &slot, args); err != nil {
		return Message{}, err
	}
	target, err := c.base.Parse(slot.URL)
	if err != nil {
		return Message{}, err
	}
	for attempt := 1; ; attempt++ {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return Message{}, err
		}
		m, err := c.put(ctx, target.String(), f, st.Size())
		var ce *Error
		if err == nil || errors.As(err, &ce) || attempt == 4 || ctx.Err() != nil {
			return m, err
		}
		t := time.NewTimer(time.Duration(attempt) * time.Second)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return Message{}, ctx.Err()
		}
	}
}

// put sends the bytes of an upload slot; a *Error is the server's refusal,
// anything else a network failure worth a retry.
func (c *Client) put(ctx context.Context, url string, body io.Reader, size int64) (Message, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, io.NopCloser(body))
	if err != nil {
		return Message{}, err
	}
	req.ContentLength = size
	res, err := c.http.Do(req)
	if err != nil {
		return Message{}, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return Message{}, err
	}
	if !json.Valid(data) {
		// A proxy's error page: worth another try.
		return Message{}, fmt.Errorf("upload: HTTP %d, not a chat server's answer", res.StatusCode)
	}
	var r struct {
		Message Message `json:"message"`
	}
	if err := decodeAck(data, &r); err != nil {
		return Message{}, err
	}
	c.mu.Lock()
	c.linkLocked(&r.Message)
	c.mu.Unlock()
	return r.Message, nil
}

// Search finds messages with every word of text (as word prefixes) in the
// rooms the session may read (room: only that one), newest first; before
// is the Next of the previous page.
func (c *Client) Search(ctx context.Context, text, room, before string, limit int) (SearchPage, error) {
	var p SearchPage
	args := map[string]any{"text": text}
	if room != "" {
		args["room"] = room
	}
	if before != "" {
		args["before"] = before
	}
	if limit > 0 {
		args["limit"] = limit
	}
	err := c.retry(ctx, "search", &p, args)
	c.mu.Lock()
	for i := range p.Results {
		c.linkLocked(&p.Results[i].Message)
	}
	c.mu.Unlock()
	return p, err
}
