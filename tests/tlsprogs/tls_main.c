/* Thread-local storage in a dynamically linked program: each thread sees its own copies. */
#pragma dynimport puts puts "libc.so.6"
#pragma dynimport exit exit "libc.so.6"
#pragma dynimport pthread_create pthread_create "libc.so.6"
#pragma dynimport pthread_join pthread_join "libc.so.6"
int puts(const char *);
void exit(int);
int pthread_create(void *, const void *, void *(*)(void *), void *);
int pthread_join(unsigned long, void **);
extern _Thread_local int counter;
extern _Thread_local char buf[100];
int bump(void);
static _Thread_local int local_tls = 40;
static void *worker(void *arg) {
  (void)arg;
  int r = bump();      /* fresh copy in this thread: 6 + 100 + 'x' */
  local_tls += 1;
  return (void *)(long)(r + local_tls);
}
__attribute__((force_align_arg_pointer)) void _start(void) {
  unsigned long th;
  void *res;
  int a = bump();   /* 6 + 100 + 120 = 226 */
  int b = bump();   /* 7 + 100 + 120 = 227 */
  pthread_create(&th, 0, worker, 0);
  pthread_join(th, &res);
  int c = bump();   /* 8 + ... = 228 */
  puts(a == 226 && b == 227 && c == 228 && (long)res == 226 + 41 && local_tls == 40 ? "tls ok" : "tls BAD");
  exit(0);
}
