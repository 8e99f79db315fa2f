module github.com/pyfw/pyfw/bindings/go

go 1.26
