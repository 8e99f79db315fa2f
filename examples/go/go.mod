module github.com/pyfw/pyfw/examples/go

go 1.26

require github.com/pyfw/pyfw/bindings/go v0.0.0

replace github.com/pyfw/pyfw/bindings/go => ../../bindings/go
