#!/bin/sh
# The project's test: the page the service shows must say hello.
set -eu
grep -q 'hello' index.html
echo "test passed"
