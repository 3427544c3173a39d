/* Error: one symbol both dynimported and dynexported. */
#pragma dynimport both_ways puts "libc.so.6"
#pragma dynexport both_ways exported_name
int (*both_ways)(const char *);
void _start(void) { both_ways("x"); }
