"""InterMask Gradio demo (placeholder until the app issue lands)."""
import gradio as gr

with gr.Blocks(title="InterMask") as demo:
    gr.Markdown("# InterMask\nText to two-person 3D interaction. The demo is being built.")

if __name__ == "__main__":
    demo.launch(server_name="127.0.0.1")
