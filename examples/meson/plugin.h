/* What every module exports to the host. */
extern char *plugin_name;
int plugin_run(int n);
