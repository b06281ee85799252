package proto1_test

import (
	"encoding/json"
	"testing"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/proto1"
)

func TestDecodeFilesAndSearch(t *testing.T) {
	cmd, err := proto1.DecodeArg(proto1.CmdUpload, json.RawMessage(`{"room":"general","name":"a.png","size":12,"contentType":"image/png","text":"hi","clientId":"c1","replyTo":"41"}`))
	if err != nil || cmd.Room != "general" || cmd.File == nil || cmd.File.Name != "a.png" || *cmd.File.Size != 12 ||
		cmd.File.Type != "image/png" || *cmd.File.Text != "hi" || cmd.File.ClientID != "c1" || cmd.File.ReplyTo != "41" {
		t.Fatalf("upload: %+v %+v %v", cmd, cmd.File, err)
	}
	// The JSON framing's "type" is the command, never the media type.
	_, cmd, err = proto1.DecodeFrame([]byte(`{"type":"upload","ref":1,"room":"general","name":"a.png","size":3}`))
	if err != nil || cmd.File.Type != "" {
		t.Fatalf("upload frame: %+v %v", cmd.File, err)
	}
	if _, err := proto1.DecodeArg(proto1.CmdFileToken, nil); err != nil {
		t.Fatalf("fileToken without an argument: %v", err)
	}
	cmd, err = proto1.DecodeObject(proto1.CmdSearch, json.RawMessage(`{"text":"release notes","room":"general","before":"17","limit":5}`))
	if err != nil || cmd.Search == nil || *cmd.Search.Text != "release notes" || cmd.Room != "general" || cmd.Search.Before != "17" || cmd.Search.Limit != 5 {
		t.Fatalf("search: %+v %v", cmd.Search, err)
	}
	for _, c := range []struct {
		name, arg string
		code      chat.Code
	}{
		{proto1.CmdUpload, `{"name":"a.png","size":1}`, chat.CodeInvalidRoom},
		{proto1.CmdUpload, `{"room":"general","size":1}`, chat.CodeInvalidArgument},
		{proto1.CmdUpload, `{"room":"general","name":"a.png"}`, chat.CodeInvalidArgument},
		{proto1.CmdUpload, `{"room":"general","name":"a.png","size":"12"}`, chat.CodeInvalidArgument},
		{proto1.CmdUpload, `{"room":"general","name":"a.png","size":12,"replyTo":41}`, chat.CodeInvalidArgument},
		{proto1.CmdSearch, `{"room":"general"}`, chat.CodeInvalidArgument},
		{proto1.CmdSearch, `{"text":7}`, chat.CodeInvalidArgument},
		{proto1.CmdSearch, `{"text":"a\udc00"}`, chat.CodeInvalidArgument},
	} {
		_, err := proto1.DecodeArg(c.name, json.RawMessage(c.arg))
		if chat.ErrorCode(err) != c.code {
			t.Errorf("%s %s: %v, want %s", c.name, c.arg, err, c.code)
		}
	}
}
