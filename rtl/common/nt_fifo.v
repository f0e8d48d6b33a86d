// First-word-fall-through FIFO with valid/ready on both sides.
//
// The storage is a synchronous-read RAM (one iCE40 EBR per 512x8 bits) followed by one output
// register, so the head is visible on rd_data whenever rd_valid is high. `free` is what wr may
// still push (the storage words not in use), kept as a counter of its own. A word is never
// read in the cycle it is written (the read pointer reaches it a cycle later at the earliest),
// so the RAM needs no read-during-write bypass (no_rw_check, see nt_ram.v).
`default_nettype none

module nt_fifo #(
    parameter WIDTH = 16,
    parameter DEPTH = 512              // storage words; a power of two
) (
    input  wire             clk,
    input  wire             rst,
    input  wire             wr_valid,
    output wire             wr_ready,
    input  wire [WIDTH-1:0] wr_data,
    output reg              rd_valid,
    input  wire             rd_ready,
    output reg  [WIDTH-1:0] rd_data,
    output wire [$clog2(DEPTH):0] free
);
    localparam AW = $clog2(DEPTH);
    localparam [AW:0] FULL = DEPTH;

    (* no_rw_check *) reg [WIDTH-1:0] mem [0:DEPTH-1];
    reg [AW-1:0] wptr, rptr;
    reg [AW:0]   free_r;               // words of `mem` not in use

    wire push = wr_valid && wr_ready;
    // Refill the output register when it is empty or being taken this cycle.
    wire pull = (free_r != FULL) && (!rd_valid || rd_ready);

    assign wr_ready = free_r != 0;
    assign free = free_r;

    // One process for storage and pointers: simulators wake each process every clock.
    always @(posedge clk) begin
        if (push) mem[wptr] <= wr_data;
        if (pull) rd_data <= mem[rptr];
        if (rst) begin
            wptr <= 0;
            rptr <= 0;
            free_r <= FULL;
            rd_valid <= 1'b0;
        end else if (push || pull || rd_ready) begin
            if (push) wptr <= wptr + 1'b1;
            if (pull) rptr <= rptr + 1'b1;
            if (push != pull) free_r <= free_r + (push ? {(AW + 1){1'b1}} : {{AW{1'b0}}, 1'b1});
            if (pull) rd_valid <= 1'b1;
            else if (rd_ready) rd_valid <= 1'b0;
        end
    end
endmodule

`default_nettype wire
