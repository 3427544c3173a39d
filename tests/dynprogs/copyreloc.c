/* Imported data used directly by non-PIC code: the linker copies it into the executable
 * (R_*_COPY), and the library's own code must then use that copy. */
#pragma dynimport lib_counter lib_counter "libcpy.so"
#pragma dynimport lib_name lib_name "libcpy.so"
#pragma dynimport lib_bump lib_bump "libcpy.so"
#pragma dynimport puts puts "libc.so.6"
#pragma dynimport exit exit "libc.so.6"
extern int lib_counter;
extern const char lib_name[16];
int lib_bump(void);
int puts(const char *);
void exit(int);

void _start(void)
{
	int before = lib_counter;
	int after = lib_bump();

	puts(lib_name);
	puts(before == 5 && after == 6 && lib_counter == 6 ? "shared counter ok" : "counter BAD");
	exit(0);
}
