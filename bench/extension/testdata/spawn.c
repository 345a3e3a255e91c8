/*
 * The spawn floor of the start-up benchmark: a static C program whose main
 * only writes a newline to standard error. The time from exec to that byte
 * is what the machine charges any process before its code runs, without a
 * language runtime; the Go floor (floor.go) minus this one is the Go
 * runtime's own start.
 */
#include <unistd.h>

int main(void) {
	return write(2, "\n", 1) == 1 ? 0 : 1;
}
