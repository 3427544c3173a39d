/* A library whose data an executable uses directly (non-PIC): copy relocations. */
int lib_counter = 5;
const char lib_name[16] = "copied library";
int lib_bump(void) { return ++lib_counter; }
