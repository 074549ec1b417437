// Package otheros has tests only for another operating system: on Linux `go test -c` finds no
// test files to build, so gxm records the package as unsupported there.
package otheros

// Name is the package's name.
const Name = "otheros"
