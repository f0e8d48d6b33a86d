// 8N1 UART transmitter, CLKS_PER_BIT clocks per bit; takes a byte on valid && ready.
`default_nettype none

module nt_uart_tx #(
    parameter CLKS_PER_BIT = 4
) (
    input  wire       clk,
    input  wire       rst,
    input  wire       valid,
    output wire       ready,           // a byte is taken on valid && ready
    input  wire [7:0] data,
    output wire       tx
);
    localparam CW = $clog2(CLKS_PER_BIT);
    localparam integer FULL_I = CLKS_PER_BIT - 1;
    localparam [CW-1:0] FULL = FULL_I[CW-1:0];

    reg [9:0] shift;                   // stop, data[7:0], start: sent LSB first
    reg [3:0] left;                    // bits still to send
    reg [CW-1:0] count;

    assign ready = left == 4'd0;
    assign tx = ready ? 1'b1 : shift[0];

    always @(posedge clk) begin
        if (rst) begin
            left <= 4'd0;
            shift <= 10'h3FF;
        end else if (ready) begin
            if (valid) begin
                shift <= {1'b1, data, 1'b0};
                left <= 4'd10;
                count <= FULL;
            end
        end else if (count != 0) begin
            count <= count - 1'b1;
        end else begin
            count <= FULL;
            shift <= {1'b1, shift[9:1]};
            left <= left - 4'd1;
        end
    end
endmodule

`default_nettype wire
