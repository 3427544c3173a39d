/* Strong definitions overriding weak ones in weak.c. */
#include "prog.h"

int hook(int x) { return x * 100; }
int weak_data = 77;
