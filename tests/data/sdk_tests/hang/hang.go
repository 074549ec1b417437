// Package hang has SDK code that blocks forever inside a C call.
package hang

/*
#include <unistd.h>
static void sdk_wait_forever(void) { for (;;) pause(); }
*/
import "C"

// WaitForDevice never returns: it blocks in C.
func WaitForDevice() { C.sdk_wait_forever() }
