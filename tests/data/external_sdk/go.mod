module example.com/external_sdk

go 1.21
