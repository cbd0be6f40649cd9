# Object rules shared by every program. Host objects are PIE; static objects
# (guest programs) are not.

$(OBJ)/host/%.o: %.c | deps
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -c -o $@ $<

$(OBJ)/static/%.o: %.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(OBJ)/san/%.o: %.c | deps
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) $(SAN_FLAGS) -c -o $@ $<
