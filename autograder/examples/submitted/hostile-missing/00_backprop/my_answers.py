# I wrote my answers in a script instead
