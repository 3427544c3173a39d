/* A table of pointers to strings: data the loader relocates (mode 0). */
static char *words[] = {"hello", "from", "a", "dynld", "module"};

char *
word(int i)
{
	return words[i % (int)(sizeof words / sizeof words[0])];
}

int
nwords(void)
{
	return sizeof words / sizeof words[0];
}
