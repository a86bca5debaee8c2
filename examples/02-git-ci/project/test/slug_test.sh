# The tests of src/slug.sh; exits with 1 when one fails. Run from the project's root.
. ./src/slug.sh

failures=0
check() {
  got=$(slug "$1")
  if [ "$got" = "$2" ]; then
    echo "ok   slug '$1' = '$2'"
  else
    echo "FAIL slug '$1' = '$got', expected '$2'"
    failures=$((failures + 1))
  fi
}

check 'Hello World' hello-world
check '  Junction: event-driven  ' junction-event-driven
check 'v1.2.3' v1-2-3

if [ "$failures" -gt 0 ]; then
  echo "$failures test(s) failed"
  exit 1
fi
echo 'all tests passed'
