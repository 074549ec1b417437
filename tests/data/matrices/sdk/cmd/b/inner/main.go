// inner is a second main package below b
package main

func main() {}
