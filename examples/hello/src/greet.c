// A Wagi module (WASI preview1 command): CGI headers, a blank line, then the body, all on stdout.
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    const char *greeting = getenv("GREETING");
    const char *name = getenv("X_PATH_MATCH_NAME");
    printf("content-type: text/plain\n\n");
    printf("%s, %s!\n", greeting ? greeting : "Hello", name ? name : "stranger");
    return 0;
}
