module example.com/cgo_fallback_sdk

go 1.21
