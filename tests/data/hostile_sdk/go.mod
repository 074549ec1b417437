module example.com/hostile_sdk

go 1.21
