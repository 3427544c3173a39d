/* Thread-local variables defined here (local-exec) and in tls_other.c (initial-exec). */
_Thread_local int counter = 5;
_Thread_local char buf[100];
extern _Thread_local int other;
int bump(void) { buf[3] = 'x'; return ++counter + other + buf[3]; }
