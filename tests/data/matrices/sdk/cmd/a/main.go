//go:build linux

/* a block
   comment */
package main

func main() {}
