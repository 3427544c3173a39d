/* Error: a dynexport of a symbol nothing defines. */
#pragma dynexport nowhere_defined exported_name
void _start(void) {}
