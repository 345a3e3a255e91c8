package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNodeFunctionFromStdin runs a Node.js function given by
// --node-function and invokes it from a line on stdin.
func TestNodeFunctionFromStdin(t *testing.T) {
	dir := t.TempDir()
	code := "exports.greet = async (event) => ({ hello: event.name });\n"
	if err := os.WriteFile(filepath.Join(dir, "app.js"), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err := run([]string{"--node-function", "greeter=" + dir + ",app.greet", "--queue", "q=greeter", "--topic", "t=greeter",
		"--rule", "r=shop.orders=greeter", "--no-freeze"},
		strings.NewReader(`{"name":"node"}`+"\n"), &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	var res struct {
		Function string
		Payload  map[string]string
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("decode %q: %v", stdout.String(), err)
	}
	if res.Function != "greeter" || res.Payload["hello"] != "node" {
		t.Errorf("result %s", stdout.String())
	}
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--node-function", "nodir"},
		{"--node-function", "n=/x", "--queue", "q=missing"},
		{"--node-function", "n=/x", "--topic", "t"},
		{"--node-function", "n=/x", "--topic", "t=missing"},
		{"--node-function", "n=/x", "--rule", "r=n"},
		{"--node-function", "n=/x", "--rule", "r=src=missing"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(args, strings.NewReader(""), &stdout, &stderr); err == nil {
			t.Errorf("run %q: no error", args)
		}
	}
}
