// hugeresult writes a result file holding a 5001-digit integer metric and exits 0: the run is a
// pass whose result file is malformed, never a harness traceback.
package main

import (
	"os"
	"strings"
)

func main() {
	doc := `{"schema":"gxm.fixture/1","metrics":{"ops":` + strings.Repeat("9", 5001) + `}}`
	if err := os.WriteFile(os.Getenv("GXM_RESULT"), []byte(doc), 0o644); err != nil {
		panic(err)
	}
}
