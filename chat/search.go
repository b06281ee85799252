package chat

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Full-text search.
//
// Words are runs of letters, digits and combining marks; everything else
// separates them. A search is a list of words (at most MaxSearchTerms),
// each matched as the start of a word of the message, all of them
// required, without regard to case (diacritics count: "cafe" does not
// find "café"). It covers the text of messages and the names of their
// files, never tombstones, and only the rooms the searcher may read: the
// Session passes the Store the exact list of rooms to look in. Results
// come newest first, a page at a time; the Session adds where each word
// matched (Highlights), so every store highlights alike.

// Searcher is the search side of a Store (Store embeds it).
type Searcher interface {
	// Search returns up to q.Limit messages of q.Rooms that match every
	// term of q.Terms as a word prefix (case-insensitively), in their text
	// or their file's name, newest (highest ID) first, with an ID below
	// q.Before when it is not empty. Tombstones never match. Terms are
	// what SearchTerms returns; rooms are canonical; no rooms means no
	// results.
	Search(ctx context.Context, q SearchQuery) ([]Message, error)
}

// SearchQuery is one page of a search, for Store.Search.
type SearchQuery struct {
	Terms  []string
	Rooms  []string
	Before string // a message ID: results have lower IDs; "" for the newest
	Limit  int    // 1..MaxSearchLimit
}

// Search limits.
const (
	MaxSearchTerms     = 8
	MaxSearchTermRunes = 64
	MaxSearchBytes     = 512
	MaxSearchLimit     = 100
)

// IsWordRune reports whether r is part of a word for search.
func IsWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) }

// SearchTerms splits a user's search text into its words, lower-cased and
// de-duplicated, in order. Errors: CodeInvalidArgument for text with no
// word, too many words, or too long.
func SearchTerms(text string) ([]string, error) {
	if len(text) > MaxSearchBytes {
		return nil, Errorf(CodeInvalidArgument, "the search is %d bytes, the limit is %d", len(text), MaxSearchBytes)
	}
	if !utf8.ValidString(text) {
		return nil, Errorf(CodeInvalidArgument, "the search is not valid UTF-8")
	}
	var terms []string
	seen := map[string]bool{}
	for _, w := range strings.FieldsFunc(text, func(r rune) bool { return !IsWordRune(r) }) {
		w = strings.ToLower(w)
		if utf8.RuneCountInString(w) > MaxSearchTermRunes {
			return nil, Errorf(CodeInvalidArgument, "a search word is longer than %d characters", MaxSearchTermRunes)
		}
		if seen[w] {
			continue
		}
		seen[w] = true
		terms = append(terms, w)
	}
	switch {
	case len(terms) == 0:
		return nil, Errorf(CodeInvalidArgument, "search for at least one word (letters or digits)")
	case len(terms) > MaxSearchTerms:
		return nil, Errorf(CodeInvalidArgument, "at most %d words per search", MaxSearchTerms)
	}
	return terms, nil
}

// CheckSearchQuery validates a SearchQuery the way every Store must.
func CheckSearchQuery(q SearchQuery) error {
	if len(q.Terms) == 0 || len(q.Terms) > MaxSearchTerms {
		return Errorf(CodeInvalidArgument, "a search needs 1 to %d terms", MaxSearchTerms)
	}
	for _, t := range q.Terms {
		if t == "" || strings.IndexFunc(t, func(r rune) bool { return !IsWordRune(r) }) >= 0 || t != strings.ToLower(t) ||
			utf8.RuneCountInString(t) > MaxSearchTermRunes {
			return Errorf(CodeInvalidArgument, "search term %q is not one SearchTerms makes", t)
		}
	}
	if q.Limit < 1 || q.Limit > MaxSearchLimit {
		return Errorf(CodeInvalidArgument, "limit must be between 1 and %d", MaxSearchLimit)
	}
	for _, r := range q.Rooms {
		if err := CheckRoomArg(r); err != nil {
			return err
		}
	}
	if len(q.Before) > 32 {
		return Errorf(CodeInvalidArgument, "invalid search position")
	}
	return nil
}

// MatchesTerms reports whether every term is the prefix of a word of text
// or name (case-insensitively): what Store.Search matches. MemStore
// searches with it; it is the reference for the SQL stores.
func MatchesTerms(terms []string, text, name string) bool {
	for _, t := range terms {
		if len(wordRanges(text, []string{t})) == 0 && len(wordRanges(name, []string{t})) == 0 {
			return false
		}
	}
	return true
}

// wordRanges returns the byte ranges of the words of s that start with
// one of terms (lower case), case-insensitively.
func wordRanges(s string, terms []string) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !IsWordRune(r) {
			i += n
			continue
		}
		j := i
		for j < len(s) {
			r, n := utf8.DecodeRuneInString(s[j:])
			if !IsWordRune(r) {
				break
			}
			j += n
		}
		word := strings.ToLower(s[i:j])
		for _, t := range terms {
			if strings.HasPrefix(word, t) {
				out = append(out, prefixRange(s[i:j], t, i))
				break
			}
		}
		i = j
	}
	return out
}

// prefixRange is the byte range in the original word (at offset off) of
// the prefix that lower-cases to term: the whole word's runes up to the
// term's rune count.
func prefixRange(word, term string, off int) [2]int {
	k := utf8.RuneCountInString(term)
	end := 0
	for i := 0; i < k && end < len(word); i++ {
		_, n := utf8.DecodeRuneInString(word[end:])
		end += n
	}
	return [2]int{off, off + end}
}

// utf16Ranges converts byte ranges of s into UTF-16 code unit offsets (what
// JavaScript, Java and Swift index strings by).
func utf16Ranges(s string, rs [][2]int) [][2]int {
	if len(rs) == 0 {
		return [][2]int{}
	}
	out := make([][2]int, 0, len(rs))
	units, k, pos := 0, 0, 0
	conv := func(b int) int {
		for pos < b {
			r, n := utf8.DecodeRuneInString(s[pos:])
			units += max(utf16.RuneLen(r), 1)
			pos += n
		}
		return units
	}
	for ; k < len(rs); k++ {
		a := conv(rs[k][0])
		b := conv(rs[k][1])
		out = append(out, [2]int{a, b})
	}
	return out
}

// SearchHit is one result: the message and where the search words are in
// its text and its file's name, as [start, end) offsets in UTF-16 code
// units (JavaScript string indexes).
type SearchHit struct {
	Message    Message    `json:"message"`
	Highlights Highlights `json:"highlights"`
}

// Highlights are the matched ranges of a SearchHit.
type Highlights struct {
	Text [][2]int `json:"text"`
	Name [][2]int `json:"name,omitempty"`
}

// SearchParams is a client's search.
type SearchParams struct {
	Text   string // the words
	Room   string // only this room ("" for every room the session may read)
	Before string // SearchPage.Next of the previous page ("" for the first)
	Limit  int    // 0: 20; at most MaxSearchLimit
}

// SearchPage is one page of results, newest first. More says there are
// older ones: ask again with Before = Next.
type SearchPage struct {
	Results []SearchHit `json:"results"`
	More    bool        `json:"more"`
	Next    string      `json:"next,omitempty"`
}

// Search finds messages in the rooms the session may read (one room, or
// every public room its identity allows and its own DM rooms), newest
// first. A room it may not read is ErrForbidden, as for History.
func (s *Session) Search(ctx context.Context, p SearchParams) (SearchPage, error) {
	terms, err := SearchTerms(p.Text)
	if err != nil {
		return SearchPage{}, err
	}
	limit := p.Limit
	switch {
	case limit < 0:
		return SearchPage{}, Errorf(CodeInvalidArgument, "limit must not be negative")
	case limit == 0:
		limit = 20
	}
	limit = min(limit, MaxSearchLimit)
	if len(p.Before) > 32 {
		return SearchPage{}, Errorf(CodeInvalidArgument, "invalid search position (before)")
	}
	var rooms []string
	if p.Room != "" {
		name, err := NormalizeRoom(p.Room)
		if err != nil {
			return SearchPage{}, err
		}
		if err := s.lockOpen(); err != nil {
			return SearchPage{}, err
		}
		ok := s.mayReadLocked(name)
		s.svc.mu.Unlock()
		if !ok {
			return SearchPage{}, readForbidden(name)
		}
		rooms = []string{name}
	} else {
		all, err := s.Rooms(ctx) // the readable ones
		if err != nil {
			return SearchPage{}, err
		}
		rooms = make([]string, len(all))
		for i, r := range all {
			rooms[i] = r.Name
		}
	}
	page := SearchPage{Results: []SearchHit{}}
	if len(rooms) == 0 {
		return page, nil
	}
	msgs, err := s.svc.store.Search(ctx, SearchQuery{Terms: terms, Rooms: rooms, Before: p.Before, Limit: limit + 1})
	if err != nil {
		return SearchPage{}, storeErr(err)
	}
	if len(msgs) > limit {
		msgs, page.More = msgs[:limit], true
		page.Next = msgs[limit-1].ID
	}
	for _, m := range msgs {
		h := Highlights{Text: utf16Ranges(m.Text, wordRanges(m.Text, terms))}
		if m.Attachment != nil {
			if rs := wordRanges(m.Attachment.Name, terms); len(rs) > 0 {
				h.Name = utf16Ranges(m.Attachment.Name, rs)
			}
		}
		page.Results = append(page.Results, SearchHit{Message: m, Highlights: h})
	}
	return page, nil
}
