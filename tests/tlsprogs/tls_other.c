/* A thread-local variable another object uses (initial-exec from there). */
_Thread_local int other = 100;
