#!./procs script-interp
The interpreter reads no further than the first line.
