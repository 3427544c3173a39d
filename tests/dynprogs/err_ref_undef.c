/* Error companion: references the symbol err_undef_export.c dynexports and nothing defines. */
extern void nowhere_defined(void);
void other_entry(void) { nowhere_defined(); }
