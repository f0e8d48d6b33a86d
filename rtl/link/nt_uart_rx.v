// 8N1 UART receiver, CLKS_PER_BIT clocks per bit (12 MHz / 3 Mbaud = 4, 12 MHz / 1 Mbaud =
// 12). A byte whose stop bit is low is dropped and `error` pulses instead.
`default_nettype none

module nt_uart_rx #(
    parameter CLKS_PER_BIT = 4         // >= 4
) (
    input  wire       clk,
    input  wire       rst,
    input  wire       rx,
    output reg        valid,           // one clock: `data` holds a received byte
    output reg  [7:0] data,
    output reg        error            // one clock: framing error (stop bit low)
);
    localparam CW = $clog2(CLKS_PER_BIT * 2);
    localparam integer HALF_I = CLKS_PER_BIT / 2 - 1;
    localparam integer FULL_I = CLKS_PER_BIT - 1;
    localparam [CW-1:0] HALF = HALF_I[CW-1:0];
    localparam [CW-1:0] FULL = FULL_I[CW-1:0];

    // Two flip-flops against metastability: the line is asynchronous to clk on a board.
    reg [1:0] sync;
    reg       busy;
    reg [3:0] bit_i;                   // 0 start, 1..8 data, 9 stop
    reg [CW-1:0] count;
    wire line = sync[1];

    always @(posedge clk) begin
        sync <= {sync[0], rx};
        valid <= 1'b0;
        error <= 1'b0;
        if (rst) begin
            sync <= 2'b11;
            busy <= 1'b0;
        end else if (!busy) begin
            if (!line) begin           // start bit: sample the bits in their middles
                busy <= 1'b1;
                bit_i <= 4'd0;
                count <= HALF;
            end
        end else if (count != 0) begin
            count <= count - 1'b1;
        end else begin
            count <= FULL;
            bit_i <= bit_i + 4'd1;
            if (bit_i == 4'd0) begin
                if (line) busy <= 1'b0;  // a glitch, not a start bit
            end else if (bit_i != 4'd9) begin
                data <= {line, data[7:1]};
            end else begin
                busy <= 1'b0;
                valid <= line;
                error <= !line;
            end
        end
    end
endmodule

`default_nettype wire
