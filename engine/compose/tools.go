//go:build tools

// Package tools pins docker compose v2 so that `go build` in this wrapper module
// builds the docker CLI plugin `docker-compose` (see scripts/build-compose.sh).
package tools

import _ "github.com/docker/compose/v2/cmd"
