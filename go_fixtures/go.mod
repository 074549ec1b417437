module gxm.dev/fixtures

go 1.21
