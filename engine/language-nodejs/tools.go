//go:build tools

// Package tools records the binary this wrapper module builds, so that
// `go mod tidy` keeps its dependencies in go.mod/go.sum.
package tools

import (
	_ "github.com/pulumi/pulumi/sdk/v3/go/common/version"
	_ "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"
)
