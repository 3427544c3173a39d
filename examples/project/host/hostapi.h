/*
 * What the host exports to plugin modules (listed in exports.yaml, whose type
 * signatures come from this header), and what every plugin exports to the host.
 */
#ifndef HOSTAPI_H
#define HOSTAPI_H

/* Host services a plugin may import. */
void host_print(char *s);
void host_printint(char *label, long v);
int host_add(int a, int b);
extern int host_calls;		/* how many host services plugins have called */
extern char *host_banner;

/* The interface every plugin exports. */
extern char *plugin_name;
int plugin_run(int n);

#endif
