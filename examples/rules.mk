# The examples `make run` deploys: the provided runtime's bootstrap is a static C program.

EXAMPLES := $(BUILD)/examples
$(EXAMPLES)/provided/bootstrap: $(OBJ)/static/examples/provided/bootstrap.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(STATIC_LDFLAGS)
all: $(EXAMPLES)/provided/bootstrap
