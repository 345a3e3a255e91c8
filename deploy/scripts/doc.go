// Package scripts holds the shell scripts that install what the build, the
// tests and the demo need; its test checks that every shell script in the
// repository parses, so a broken benchmark or install script fails `make
// test` instead of the run that needs it.
package scripts
