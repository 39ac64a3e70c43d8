"""The exit statuses of every `uvmsim` command (README, docs/checker.md)."""

EXIT_OK = 0  # nothing found, or the work done
EXIT_FOUND = 1  # a check, replay or review found a failure: a result, not an error
EXIT_INPUT = 2  # the user's input (options, files, tokens, specs) is wrong
EXIT_INTERNAL = 3  # uvmsim itself failed (or a started sweep could not finish)
EXIT_INTERRUPT = 130  # Ctrl-C, as a shell reports SIGINT
EXIT_TERMINATED = 143  # SIGTERM during a sweep, as a shell reports it
EXIT_BROKEN_PIPE = 141  # the reader of stdout went away (`| head`), as a shell reports SIGPIPE
