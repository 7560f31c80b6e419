#!/bin/sh
# wordcount: counts the words of payload.text and reports progress on fd 3.
text=$(sed -n 's/^[[:space:]]*"text"[[:space:]]*:[[:space:]]*"\(.*\)",\{0,1\}$/\1/p' | head -n 1)
echo "progress 50" >&3
words=$(printf '%s\n' "$text" | wc -w)
echo "progress 100" >&3
echo "words: $((words))"
