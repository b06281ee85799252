package proto1

import (
	"context"
	"net/url"

	"github.com/banter-chat/banter/chat"
)

// Files and search (docs/protocol.md, "Files" and "Search"). The bytes of
// a file never travel in protocol 1's framings: upload answers a slot, and
// the client sends the bytes over HTTP to any node (PUT UploadPath +
// token); messages carry their file's Attachment, downloaded over HTTP
// with the token fileToken answers (GET FilePath + id + "/" + name
// "?token=" + token).

// The HTTP paths of files (served by the REST gateway on every node).
const (
	UploadPath = "/api/v1/uploads/"
	FilePath   = "/api/v1/files/"
)

// FileArgs are upload's fields.
type FileArgs struct {
	Room     string  `json:"room"`
	Name     string  `json:"name"`
	Size     *int64  `json:"size"`
	Type     string  `json:"contentType"` // not "type": the JSON framing's command field
	Text     *string `json:"text"`
	ClientID string  `json:"clientId"`
	ReplyTo  string  `json:"replyTo"` // the id of the message of the room the file answers
}

// SearchArgs are search's fields.
type SearchArgs struct {
	Text   *string `json:"text"`
	Room   string  `json:"room"`
	Before string  `json:"before"`
	Limit  int     `json:"limit"`
}

// UploadResult answers upload: where and how to send the bytes.
type UploadResult struct {
	// URL is the path to PUT the file's bytes to (on any node), with
	// Content-Length the declared size (and, optionally, Content-Type).
	URL      string `json:"url"`
	Method   string `json:"method"`
	Expires  int64  `json:"expires"`  // Unix ms
	ClientID string `json:"clientId"` // of the message the upload becomes
	MaxBytes int64  `json:"maxBytes"` // the exact size to send
}

// FileTokenResult answers fileToken.
type FileTokenResult struct {
	Token   string `json:"token"`
	Expires int64  `json:"expires"` // Unix ms
	// URL is the path prefix of downloads: URL + id + "/" + name +
	// "?token=" + Token.
	URL string `json:"url"`
}

// SearchResult answers search: a chat.SearchPage.
type SearchResult = chat.SearchPage

func parseFiles(cmd *Command, obj func(any) error) error {
	switch cmd.Name {
	case CmdUpload:
		var a FileArgs
		if err := obj(&a); err != nil {
			return err
		}
		cmd.Room, cmd.File = a.Room, &a
	case CmdSearch:
		var a SearchArgs
		if err := obj(&a); err != nil {
			return err
		}
		cmd.Room, cmd.Search = a.Room, &a
	}
	return nil
}

func validateFiles(cmd Command, label string) error {
	switch cmd.Name {
	case CmdUpload:
		switch {
		case cmd.File == nil || cmd.Room == "":
			return missing(chat.CodeInvalidRoom, label, "room")
		case cmd.File.Name == "":
			return missing(chat.CodeInvalidArgument, label, "name")
		case cmd.File.Size == nil:
			return missing(chat.CodeInvalidArgument, label, "size")
		}
	case CmdSearch:
		if cmd.Search == nil || cmd.Search.Text == nil {
			return missing(chat.CodeInvalidArgument, label, "text")
		}
	}
	return nil
}

func execFiles(ctx context.Context, sess *chat.Session, cmd Command) (any, error) {
	switch cmd.Name {
	case CmdUpload:
		if err := validateFiles(cmd, CmdUpload); err != nil {
			return nil, err
		}
		a := cmd.File
		req := chat.UploadRequest{Room: cmd.Room, Name: a.Name, Size: *a.Size, Type: a.Type, ClientID: a.ClientID, ReplyTo: a.ReplyTo}
		if a.Text != nil {
			req.Text = *a.Text
		}
		slot, err := sess.UploadSlot(ctx, req)
		if err != nil {
			return nil, err
		}
		return UploadResult{URL: UploadPath + slot.Token, Method: "PUT", Expires: slot.Expires, ClientID: slot.ClientID, MaxBytes: slot.MaxBytes}, nil
	case CmdFileToken:
		tok, err := sess.FileToken(ctx)
		if err != nil {
			return nil, err
		}
		return FileTokenResult{Token: tok.Token, Expires: tok.Expires, URL: FilePath}, nil
	default: // CmdSearch
		if err := validateFiles(cmd, CmdSearch); err != nil {
			return nil, err
		}
		a := cmd.Search
		return sess.Search(ctx, chat.SearchParams{Text: *a.Text, Room: cmd.Room, Before: a.Before, Limit: a.Limit})
	}
}

// FileURL is the download path of a file for the holder of a file token.
func FileURL(a *chat.Attachment, token string) string {
	return FilePath + a.ID + "/" + url.PathEscape(a.Name) + "?token=" + url.QueryEscape(token)
}
