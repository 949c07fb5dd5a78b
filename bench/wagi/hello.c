// The smallest Wagi (CGI over WASI preview1) response, for bench/run.sh.
#include <stdio.h>

int main(void) {
    fputs("content-type: text/plain\n\nHello, world!\n", stdout);
    return 0;
}
