module github.com/banter-chat/banter

go 1.26

require github.com/lesismal/nbio v1.6.12 // indirect
