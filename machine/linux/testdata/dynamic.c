/* dynamic: a dynamically linked guest, which Load must refuse.
   Rebuild: hppa-linux-gnu-gcc -O2 -s -o dynamic dynamic.c */
int main(void) { return 0; }
