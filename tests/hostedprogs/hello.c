/* The first program: printf from libc, found with -lc and no pragma. */
#include <stdio.h>

int main(void) {
    printf("hello, %s\n", "world");
    return 0;
}
