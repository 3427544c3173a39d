/* The greet plugin: builds a sentence from words.c and prints it through the host. */
#include "hostapi.h"

char *word(int i);
int nwords(void);

char *plugin_name = "greet";

static char buf[128];

static int
append(int at, char *s)
{
	while(*s != 0 && at < (int)sizeof buf - 1)
		buf[at++] = *s++;
	buf[at] = 0;
	return at;
}

int
plugin_run(int n)
{
	int i, at;

	host_print(host_banner);
	at = 0;
	for(i = 0; i < nwords(); i++){
		if(i > 0)
			at = append(at, " ");
		at = append(at, word(i));
	}
	host_print(buf);
	host_printint("calls so far", host_calls);
	return at + n;
}
