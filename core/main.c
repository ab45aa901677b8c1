/* main: flags, start-up, signals, shutdown (being written). */
int main(void) { return 0; }
