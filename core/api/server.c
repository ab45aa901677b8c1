/* api/server: being written. */
int api_server_placeholder(void);
int api_server_placeholder(void) { return 0; }
