# slug TEXT: TEXT in lower case, every run of other characters turned into one dash.
slug() {
  printf '%s' "$1" | tr '[:upper:]' '[:lower:]' | tr -cs 'a-z0-9' '-' | sed 's/^-//; s/-$//'
}
