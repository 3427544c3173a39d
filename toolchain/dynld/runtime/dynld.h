/*
 * dynld: load Inferno-style dynamic modules (.dlm) into a running program.
 *
 * The interface of Inferno's dynld(10.2), for 386, amd64 and arm hosts linked
 * against a POSIX C library.  The file format is described in docs/dynld-format.md.
 * Beyond Inferno's loader this one maps text read+execute and data read+write
 * (from the file, copy-on-write, when the module's layout allows), bounds-checks
 * every relocation, import and export, and reports every failure as text through
 * dynerror() (and the err callback of dynloadgen).
 */
#ifndef DYNLD_H
#define DYNLD_H 1

#ifdef __cplusplus
extern "C" {
#endif

/* Plan 9 type names, as the manual page uses them.  Define DYNLD_NO_PLAN9_TYPES
 * if another header (lib9.h, u.h) already provides them. */
#ifndef DYNLD_NO_PLAN9_TYPES
#ifndef DYNLD_PLAN9_TYPES_DEFINED
#define DYNLD_PLAN9_TYPES_DEFINED 1
typedef unsigned long ulong;
typedef long long vlong;
typedef unsigned char uchar;
#endif
#endif

#define DYN_MAGIC 0x80000000UL

/* A symbol: on 386 and arm 12 bytes, on amd64 24 bytes (ulong is 64-bit there). */
typedef struct Dynsym Dynsym;
struct Dynsym {
	ulong sig;	/* signof() type signature; 0: unchecked */
	ulong addr;	/* address (module-relative in the file, absolute once loaded) */
	char *name;	/* linkage name; nil ends a table */
};

/* A loaded module. */
typedef struct Dynobj Dynobj;
struct Dynobj {
	ulong size;	/* total size in bytes */
	ulong text;	/* bytes of text */
	ulong data;	/* bytes of data */
	ulong bss;	/* bytes of bss */
	uchar *base;	/* start of text, data, bss */
	int nexport;
	Dynsym *export;	/* export table */
	int nimport;
	Dynsym **import;	/* import table */
};

Dynsym *dynfindsym(char *name, Dynsym *syms, int nsym);
Dynobj *dynloadfd(int fd, Dynsym *exports, int nexport, ulong maxsize);
Dynobj *dynloadgen(void *file, long (*read)(void *, void *, long), vlong (*seek)(void *, vlong, int),
		   void (*err)(char *), Dynsym *exports, int nexport, ulong maxsize);
void *dynimport(Dynobj *o, char *name, ulong sig);
void dynfreeimport(Dynobj *o);
void dynobjfree(Dynobj *o);
int dyntabsize(Dynsym *t);

/* Additions to the manual page. */
int dynloadable(void *file, long (*r)(void *, void *, long), vlong (*s)(void *, vlong, int));
ulong dynmagic(void);		/* DYN_MAGIC | this architecture's a.out magic */
const char *dynerror(void);	/* text of this thread's last dynld error ("" if none) */

/*
 * dynlegacy(1) lets this process load modules laid out by Inferno's own linkers
 * (8l -u, 5l -u), whose text is not a multiple of the page size: the one page
 * their text shares with data is mapped writable and executable, every other
 * page stays write-xor-execute.  dynlegacy(0), the default, refuses them (with
 * an error naming dynlegacy).  Process-wide; returns the previous setting.
 */
int dynlegacy(int on);

/* The host's own exports, sorted by name, ended by a nil name (see dynexport). */
extern Dynsym _exporttab[];

#ifdef __cplusplus
}
#endif

#endif /* DYNLD_H */
