module example.com/cgosdk

go 1.21

require example.com/sdkdep v1.0.0
